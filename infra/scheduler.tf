# Cloud Scheduler: every manifest topic with a `schedule` gets a job publishing a tick ("{}")
# to it. The local stack fires the same ticks from the same manifest (emulators/localstack).
# The ticked functions are idempotent and the next tick is the retry, so a failed tick is
# not retried.
resource "google_cloud_scheduler_job" "tick" {
  for_each = local.scheduled

  project     = var.project_id
  name        = each.key
  description = each.value.description
  region      = var.region
  schedule    = each.value.schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic[each.key].id
    data       = base64encode("{}")
  }

  retry_config {
    retry_count = 0
  }

  depends_on = [google_project_service.apis]
}
