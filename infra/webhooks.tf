# Webhooks. Topics, functions and their IAM come from functions/manifest.yaml
# (tok-webhook-deliveries, tok-webhook-retry-tick; webhooks, events, webhookfanout,
# webhookdeliver, webhookretry). Pub/Sub push retries top out at 10 minutes between attempts,
# so the 24-hour retry schedule lives in Firestore (shared/webhooks): the minute tick
# (scheduler.tf, from the manifest) wakes the retry scheduler, which polls the retry queue
# every 5 seconds for 50 seconds of each minute.
# The event functions' push subscriptions (modules/function) retry failed runs with backoff
# and dead-letter to <function>-dead-letter (pubsub.tf). The event log and delivery records
# expire after 30 days under the TTL policies in firestore.tf.
