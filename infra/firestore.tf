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

# A function that keeps its own data (the manifest's database:, the public sandbox bank) gets
# its own database, and its Firestore role is granted on that database only (an IAM condition
# on the database's resource name; Firestore IAM conditions cannot select collections or
# documents, so a separate database is what keeps it from tenants' data).
resource "google_firestore_database" "function" {
  for_each = local.function_databases

  project     = var.project_id
  name        = each.key
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  concurrency_mode        = "OPTIMISTIC"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

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

# TTL policies: every document with an expiry field is deleted by Firestore after it expires
# (usually within 24 hours; the code never relies on the deletion and treats an expired
# document as absent meanwhile). The infra test finds every expiry field in the Go code and
# requires its collection here (or a reason it is kept). The fields are exempt from
# indexing: nothing queries them, and a timestamp index on a high-write collection hotspots.
locals {
  ttl_fields = {
    "events"            = "expireAt"  # the 30-day event log (functions/eventlog)
    "deliveries"        = "expireAt"  # webhook delivery records, 30 days (shared/webhooks)
    "webhookFanouts"    = "expireAt"  # an event's fan-out record with its delivered first attempts, 30 days (shared/webhooks)
    "syncBudget"        = "expireAt"  # a consent's unattended accesses of one day (shared/banksync)
    "apiKeys"           = "expiresAt" # key records of rotated pairs past their grace (shared/orgs)
    "oauthStates"       = "expiresAt" # pending authorisations, 15 minutes (shared/authstate)
    "oauthCodeAttempts" = "expiresAt" # the code attempts of a pending authorisation, as long as its state (shared/authstate)
    "oauthOutcomes"     = "expiresAt" # answers of callbacks that showed a waiting page, 15 minutes (shared/authstate)
    "hostedSessions"    = "expiresAt" # hosted-page sessions and their single-use links, 15 minutes (shared/hosted)
    "idempotencyKeys"   = "expiresAt" # stored responses of Idempotency-Key requests (shared/idempotency)
    "sync"              = "expiresAt" # sync leases a crashed worker left behind (shared/banksync)
  }
}

resource "google_firestore_field" "ttl" {
  for_each = local.ttl_fields

  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = each.key
  field      = each.value

  ttl_config {}

  index_config {}
}

# A webhook fan-out record (shared/webhooks) is found by its ID, by one of its deliveryIds
# (array-contains, the automatic index) and, per endpoint, through the composite index on
# webhookIds and createdAt (firestore-indexes.yaml), which a field exempt from single-field
# indexing still takes part in. Nothing else queries a record, so its other fields (the
# payload and the delivered attempts among them) and those two on their own are not indexed:
# a record of n deliveries makes about 2n index entries, not 3n.
resource "google_firestore_field" "webhook_fanouts_unindexed" {
  for_each = toset(["eventId", "eventType", "payload", "delivered", "webhookIds", "createdAt"])

  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "webhookFanouts"
  field      = each.value

  index_config {}
}

# No query reads a connection's nextSyncAt (the scheduler reads shared/syncdue's buckets),
# and its index would take every write of a next slot, clustered near one value: the hot
# spot Firestore serves at about 500 writes a second. Not indexed.
resource "google_firestore_field" "connections_next_sync_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "connections"
  field      = "nextSyncAt"

  index_config {}
}
