# One Cloud Run function (2nd gen) per manifest entry. Stage the sources first:
#   go run ./scripts/stage -all      # writes build/<name>/ for every function
module "function" {
  source   = "./modules/function"
  for_each = local.functions

  project_id = var.project_id
  region     = var.region
  labels     = local.labels

  name        = each.key
  description = try(each.value.description, "")
  entry_point = each.value.entryPoint
  kind        = each.value.kind
  runtime     = local.manifest.runtime

  source_bucket            = local.source_bucket
  source_dir               = "${local.build_dir}/${each.key}"
  build_service_account_id = google_service_account.build.id
  docker_repository        = google_artifact_registry_repository.functions.id

  roles              = try(each.value.roles, [])
  firestore_database = try(each.value.database, "") != "" ? google_firestore_database.function[each.value.database].name : null
  secrets            = { for s in try(each.value.secrets, []) : s => google_secret_manager_secret.secret[s].id }
  kms_keys           = { for k in try(each.value.kmsKeys, []) : k => google_kms_crypto_key.key[k].id }

  # Of the deployment's settings, only those the function's code reads (manifest "settings").
  environment_variables = { for k, v in local.function_settings : k => v if contains(try(each.value.settings, []), k) }

  trigger_topic_id           = each.value.kind == "event" ? google_pubsub_topic.topic[each.value.trigger].id : null
  push_service_account_email = google_service_account.push.email
  dead_letter_topic_id       = each.value.kind == "event" ? google_pubsub_topic.dead_letter[each.key].id : null
  pubsub_service_agent       = local.pubsub_service_agent

  sizing = try(var.function_overrides[each.key], {})

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_source_reader,
    google_artifact_registry_repository_iam_member.build_writer,
    google_service_account_iam_member.push_token_creator,
  ]
}
