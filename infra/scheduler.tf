# Cloud Scheduler jobs go here (a later issue): the sync tick publishes to a sync-tick topic
# from the manifest on a cron schedule, e.g.
#
#   resource "google_cloud_scheduler_job" "sync_tick" {
#     name      = "tok-sync-tick"
#     region    = var.region
#     schedule  = "*/15 * * * *"
#     time_zone = "Etc/UTC"
#     pubsub_target {
#       topic_name = google_pubsub_topic.topic["tok-sync-tick"].id
#       data       = base64encode("{}")
#     }
#   }
#
# Keep jobs data-driven (a locals map or a scheduler list in the manifest) so the local stack
# can fire the same ticks.

# Consent expiry (issue 5): every 15 minutes the consentexpiry function marks consents whose
# authorisation window closed FAILED and expired consents EXPIRED, and announces
# consent.expiring 7 days ahead.
resource "google_cloud_scheduler_job" "consent_expiry_tick" {
  project   = var.project_id
  name      = "tok-consent-expiry-tick"
  region    = var.region
  schedule  = "*/15 * * * *"
  time_zone = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic["tok-consent-expiry-tick"].id
    data       = base64encode("{}")
  }

  depends_on = [google_project_service.apis]
}

# Transaction sync (issue 6): every 10 minutes the syncscheduler function publishes a sync
# request for each connection that is due; the worker keeps within 4 unattended accesses
# per consent per day.
resource "google_cloud_scheduler_job" "sync_tick" {
  project   = var.project_id
  name      = "tok-sync-tick"
  region    = var.region
  schedule  = "*/10 * * * *"
  time_zone = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic["tok-sync-tick"].id
    data       = base64encode("{}")
  }

  depends_on = [google_project_service.apis]
}
