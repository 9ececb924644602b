# One secret per name listed under any function's secrets in the manifest. Terraform creates
# the secret container only; versions (the values) are added out of band
# (gcloud secrets versions add) so no secret value ever lands in Terraform state.
resource "google_secret_manager_secret" "secret" {
  for_each = local.secret_names

  project   = var.project_id
  secret_id = each.key

  replication {
    user_managed {
      dynamic "replicas" {
        for_each = length(var.secret_replica_locations) > 0 ? var.secret_replica_locations : [var.region]
        content {
          location = replicas.value
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}
