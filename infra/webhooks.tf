# Webhooks (issue 7). Topics, functions and their IAM come from functions/manifest.yaml
# (tok-webhook-deliveries, tok-webhook-retry-tick; webhooks, events, webhookfanout,
# webhookdeliver, webhookretry). Pub/Sub push retries top out at 10 minutes between attempts,
# so the 24-hour retry schedule lives in Firestore (shared/webhooks): the minute tick
# (scheduler.tf, from the manifest) wakes the retry scheduler, which polls the retry queue
# every 5 seconds for 50 seconds of each minute.
# The Eventarc subscriptions retry failed function runs (RETRY_POLICY_RETRY) and dead-letter
# to <function>-dead-letter (pubsub.tf).

# The event log (envs/*/orgs/*/events) and webhook delivery records
# (envs/*/orgs/*/webhooks/*/deliveries) carry expireAt = 30 days after creation; Firestore's
# TTL policy deletes them (usually within 24 hours after expiry; the API hides older entries
# meanwhile). expireAt is exempt from indexing: nothing queries it, and a timestamp index on
# a high-write collection hotspots.
resource "google_firestore_field" "ttl" {
  for_each = toset(["events", "deliveries"])

  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = each.key
  field      = "expireAt"

  ttl_config {}

  index_config {}
}
