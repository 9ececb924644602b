resource "google_firestore_database" "default" {
  project     = var.project_id
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = var.environment == "prod" ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.apis]
}

locals {
  # Composite indexes live in firestore-indexes.yaml so Go tests (and the static check that
  # every query has its index) read the same list Terraform applies.
  firestore_indexes = yamldecode(file("${path.module}/firestore-indexes.yaml")).indexes

  firestore_indexes_by_key = {
    for idx in local.firestore_indexes : join("--", concat(
      [idx.collectionGroup, lower(try(idx.queryScope, "COLLECTION"))],
      [for f in idx.fields : "${f.fieldPath}-${lower(coalesce(try(f.order, null), try(f.arrayConfig, null)))}"],
    )) => idx
  }
}

resource "google_firestore_index" "index" {
  for_each = local.firestore_indexes_by_key

  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = each.value.collectionGroup
  query_scope = try(each.value.queryScope, "COLLECTION")

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.fieldPath
      order        = try(fields.value.order, null)
      array_config = try(fields.value.arrayConfig, null)
    }
  }
}
