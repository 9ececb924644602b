# Identity Pub/Sub puts in the OIDC token of every push to an event function. Each event
# function grants it roles/run.invoker on its own Cloud Run service only (modules/function);
# nobody else, allUsers least of all, may invoke an event function.
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "tok-pubsub-push"
  display_name = "Tok Pub/Sub push identity"
  description  = "Authenticates Pub/Sub's pushes to Tok's event functions."

  depends_on = [google_project_service.apis]
}

# Pub/Sub's service agent mints the push identity's OIDC tokens, on this account only.
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Identity Cloud Build uses to build the functions (instead of the Compute default account),
# with what it builds and no more: it reads the staged sources (this deployment's source
# bucket and the gcf-v2-sources bucket Cloud Functions copies them into), writes images to
# the functions' own Artifact Registry repository, and writes its build logs.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "tok-function-build"
  display_name = "Tok function builds"
  description  = "Builds Tok's functions from their staged source in Cloud Build."

  depends_on = [google_project_service.apis]
}

resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "tok-functions"
  description   = "Images of Tok's functions, built by the tok-function-build account."
  format        = "DOCKER"
  labels        = local.labels

  depends_on = [google_project_service.apis]
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# Build logs go to the project's log buckets; logWriter has no narrower resource.
resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

resource "google_project_iam_member" "build_source_reader" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = google_service_account.build.member

  condition {
    title       = "tok-function-sources"
    description = "Only the staged function sources: this deployment's bucket and Cloud Functions' copy of them."
    expression  = "resource.name.startsWith(\"projects/_/buckets/${local.source_bucket}/\") || resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-${var.region}/\")"
  }
}
