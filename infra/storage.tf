# Bucket for the zipped staged sources (build/<name>/). Cloud Build copies the source when
# it builds, so old objects are only kept for rollbacks.
resource "google_storage_bucket" "source" {
  count = var.source_bucket == null ? 1 : 0

  project  = var.project_id
  name     = "${var.project_id}-tok-function-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}
