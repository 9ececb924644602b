resource "google_kms_key_ring" "tok" {
  project  = var.project_id
  name     = "tok-${var.environment}"
  location = var.region

  depends_on = [google_project_service.apis]
}

# One crypto key per name used by any function's kmsKeys, always including "tokens" (the key
# that wraps the data keys protecting bank tokens). Functions get encrypt/decrypt on the keys
# they list only (see modules/function).
resource "google_kms_crypto_key" "key" {
  for_each = local.kms_key_names

  name            = each.key
  key_ring        = google_kms_key_ring.tok.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.kms_rotation_period

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = "SOFTWARE"
  }

  lifecycle {
    # Destroying a key makes every ciphertext it wrapped unreadable.
    prevent_destroy = true
  }
}
