locals {
  is_event = var.kind == "event"

  # account_id: 6-30 characters, letters, digits and hyphens, not ending with a hyphen.
  service_account_id = trimsuffix(substr("fn-${var.name}-sa", 0, 30), "-")

  ingress_settings = var.ingress_settings != null ? var.ingress_settings : (
    local.is_event ? "ALLOW_INTERNAL_ONLY" : "ALLOW_INTERNAL_AND_GCLB"
  )

  # The key that wraps bank-token data keys: "tokens" when listed, else the first listed key.
  kms_key = length(var.kms_keys) == 0 ? null : lookup(var.kms_keys, "tokens", values(var.kms_keys)[0])

  # What the platform and shared/gcp read; the function's own settings come from the caller.
  # LOG_EXECUTION_ID is read by Cloud Run functions' logging, not by Tok.
  environment_variables = merge(
    {
      GOOGLE_CLOUD_PROJECT = var.project_id
      LOG_EXECUTION_ID     = "true"
    },
    local.kms_key == null ? {} : { TOK_KMS_KEY = local.kms_key },
    var.firestore_database == null ? {} : { TOK_FIRESTORE_DATABASE = var.firestore_database },
    var.environment_variables,
  )

  archive_dir   = var.archive_dir != null ? var.archive_dir : "${path.root}/.terraform/tmp/functions"
  source_object = coalesce(var.source_object, one(google_storage_bucket_object.source[*].name))
}

# One service account per function: its identity at run time and the only principal its IAM
# below is granted to.
resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = local.service_account_id
  display_name = "Tok function ${var.name}"
  description  = "Runtime identity of the ${var.name} function."
}

resource "google_project_iam_member" "role" {
  for_each = toset(var.roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.function.member

  # A function with its own database gets its Firestore roles on that database only.
  dynamic "condition" {
    for_each = var.firestore_database != null && startswith(each.value, "roles/datastore.") ? [var.firestore_database] : []
    content {
      title       = "only-database-${condition.value}"
      description = "Firestore access to the ${condition.value} database only, not Tok's tenants' data."
      expression  = "resource.name == \"projects/${var.project_id}/databases/${condition.value}\""
    }
  }
}

# Secret Manager access on each listed secret only, never project-wide.
resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function.member
}

# KMS encrypt/decrypt on each listed key only, never on the key ring or the project.
resource "google_kms_crypto_key_iam_member" "encrypter_decrypter" {
  for_each = var.kms_keys

  crypto_key_id = each.value
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = google_service_account.function.member
}

# Source: the staged folder (build/<name>/) zipped; the object name carries the content hash,
# so a changed source is a new object and a new deployment.
data "archive_file" "source" {
  count = var.source_object == null ? 1 : 0

  type        = "zip"
  source_dir  = var.source_dir
  output_path = "${local.archive_dir}/${var.name}.zip"
}

resource "google_storage_bucket_object" "source" {
  count = var.source_object == null ? 1 : 0

  bucket = var.source_bucket
  name   = "${var.name}/${data.archive_file.source[0].output_md5}.zip"
  source = data.archive_file.source[0].output_path
}

resource "google_cloudfunctions2_function" "function" {
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description
  labels      = merge(var.labels, { function = var.name, kind = var.kind })

  build_config {
    runtime           = var.runtime
    entry_point       = var.entry_point
    service_account   = var.build_service_account_id
    docker_repository = var.docker_repository
    environment_variables = merge(
      # The binary is linked without its symbol table and DWARF (-s -w), which nothing reads
      # at run time (stack traces and profiles use the Go runtime's own tables): an image a
      # third smaller to store and to pull when an instance starts. scripts/stage's
      # cold-start benchmark builds with the same flags, read from here.
      { GOOGLE_GOLDFLAGS = "-s -w" },
      # Nothing in Tok calls C. Built without cgo, the binary is static: a new instance
      # starts without the dynamic loader and libc, and the runtime makes its threads
      # itself, which brought its first authenticated 200 sooner in the cold-start benchmark
      # (docs/bench/latest.txt). The benchmark reads this setting from here too.
      { CGO_ENABLED = "0" },
      # gRPC's grpcnotrace build tag leaves golang.org/x/net/trace out of the binary: Tok never
      # turns gRPC's request tracing on, and without that package a new instance was listening
      # about a millisecond sooner in the cold-start benchmark. The Go buildpack hands GO*
      # variables to the go command as they are; the benchmark reads this one from here too.
      { GOFLAGS = "-tags=grpcnotrace" },
      # Event functions have no Eventarc trigger (their push subscription is below), so the
      # buildpack is told their signature.
      local.is_event ? { GOOGLE_FUNCTION_SIGNATURE_TYPE = "cloudevent" } : {},
    )

    source {
      storage_source {
        bucket = var.source_bucket
        object = local.source_object
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function.email
    ingress_settings                 = local.ingress_settings
    all_traffic_on_latest_revision   = true
    available_memory                 = var.sizing.available_memory
    available_cpu                    = var.sizing.available_cpu
    timeout_seconds                  = var.sizing.timeout_seconds
    min_instance_count               = var.sizing.min_instance_count
    max_instance_count               = var.sizing.max_instance_count
    max_instance_request_concurrency = var.sizing.concurrency
    environment_variables            = local.environment_variables
  }

  lifecycle {
    precondition {
      condition     = !local.is_event || (var.trigger_topic_id != null && var.push_service_account_email != null && var.dead_letter_topic_id != null)
      error_message = "event function ${var.name} needs trigger_topic_id, push_service_account_email and dead_letter_topic_id."
    }
    precondition {
      condition     = var.source_object != null || var.source_dir != null
      error_message = "function ${var.name} needs source_dir (staged build/<name>/) or source_object."
    }
  }

  # The function starts with its permissions in place.
  depends_on = [
    google_project_iam_member.role,
    google_secret_manager_secret_iam_member.accessor,
    google_kms_crypto_key_iam_member.encrypter_decrypter,
  ]
}

# Event functions are fed by a push subscription Terraform owns (Eventarc's own subscription
# cannot carry a dead-letter policy Terraform manages). Pub/Sub authenticates every push with
# an OIDC token of the push identity, the only principal that may invoke the function (no
# allUsers), and ingress is internal only. The endpoint path names the topic, from which the
# functions framework builds the messagePublished CloudEvent. After max_delivery_attempts
# failed deliveries a message moves to the function's dead-letter topic.
resource "google_pubsub_subscription" "push" {
  count = local.is_event ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name}-push"
  topic                      = var.trigger_topic_id
  ack_deadline_seconds       = min(600, var.sizing.timeout_seconds)
  message_retention_duration = "86400s"
  labels                     = merge(var.labels, { function = var.name })

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.function.service_config[0].uri}/${var.trigger_topic_id}"

    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = google_cloudfunctions2_function.function.service_config[0].uri
    }
  }

  dead_letter_policy {
    dead_letter_topic     = var.dead_letter_topic_id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.push_invoker]
}

# Dead-lettering needs the Pub/Sub service agent to acknowledge on this subscription (it
# publishes to the dead-letter topic under a grant in the root module).
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  count = local.is_event ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.push[0].name
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_service_agent
}

# The push identity may invoke this event function's Cloud Run service, and nothing else.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  count = local.is_event ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function.name # the Cloud Run service has the function's name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.push_service_account_email}"
}

# HTTP functions are reached only through the load balancer (ingress ALLOW_INTERNAL_AND_GCLB),
# which does not carry Google identity; the function authenticates the API key itself.
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  count = !local.is_event && var.allow_unauthenticated ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function.name # the Cloud Run service has the function's name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
