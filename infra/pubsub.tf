# Topics come from the manifest's topics list.
resource "google_pubsub_topic" "topic" {
  for_each = local.topics

  project                    = var.project_id
  name                       = each.key
  message_retention_duration = "86400s"

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_project_service.apis]
}

# A dead-letter topic per event function, with a pull subscription that keeps what lands there
# for inspection and replay. Each event function's push subscription (modules/function, owned
# by Terraform) names its topic in its dead_letter_policy; the Pub/Sub service agent publishes
# here under the grant below and acknowledges on the push subscription under the module's.
resource "google_pubsub_topic" "dead_letter" {
  for_each = local.event_functions

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  message_retention_duration = "604800s"

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.event_functions

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.event_functions

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}
