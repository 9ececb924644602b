# Identity Eventarc uses to invoke the event functions. Each event function grants it
# roles/run.invoker on its own Cloud Run service only (modules/function).
resource "google_service_account" "eventarc" {
  project      = var.project_id
  account_id   = "tok-eventarc-invoker"
  display_name = "Tok Eventarc trigger identity"
  description  = "Invokes Tok's event functions from their Pub/Sub triggers."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "eventarc_event_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.eventarc.member
}

# Identity Cloud Build uses to build the functions (instead of the Compute default account).
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "tok-function-build"
  display_name = "Tok function builds"
  description  = "Builds Tok's functions from their staged source in Cloud Build."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "build" {
  for_each = toset([
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
    "roles/storage.objectViewer",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}
