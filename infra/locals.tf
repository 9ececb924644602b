locals {
  # The one list of Tok's functions, shared with the local gateway and scripts/stage.
  manifest = yamldecode(file("${path.module}/../functions/manifest.yaml"))

  functions       = { for f in local.manifest.functions : f.name => f }
  http_functions  = { for name, f in local.functions : name => f if f.kind == "http" }
  event_functions = { for name, f in local.functions : name => f if f.kind == "event" }
  topics          = { for t in try(local.manifest.topics, []) : t.name => t }
  scheduled       = { for name, t in local.topics : name => t if try(t.schedule, "") != "" }

  # Every secret and KMS key named by any function; IAM is still granted per function.
  secret_names = toset(flatten([for f in local.manifest.functions : try(f.secrets, [])]))
  kms_key_names = setunion(
    toset(["tokens"]),
    toset(flatten([for f in local.manifest.functions : try(f.kmsKeys, [])])),
  )

  # Settings the deployment gives its functions, each to the functions that read it (the
  # manifest's "settings"; infra_test holds the lists to the env tags of each function's code).
  # The public URLs exist once the load balancer has its hosts; the sandbox bank is served on
  # the sandbox host, where banks' browsers and Tok's connector reach it.
  function_settings = merge(
    { TOK_EVENTS_TOPIC = "tok-events" },
    local.lb_enabled ? {
      TOK_PUBLIC_URL         = "https://${var.api_domains.live}"
      TOK_SANDBOX_PUBLIC_URL = "https://${var.api_domains.sandbox}"
      TOK_SANDBOX_BANK_URL   = "https://${var.api_domains.sandbox}/sandbox-bank"
      # Webhook deliveries never connect to Tok's own load balancer, whatever name leads there.
      TOK_INTERNAL_ADDRS = google_compute_global_address.api[0].address
    } : {},
  )

  function_databases = toset([for f in local.manifest.functions : try(f.database, "") if try(f.database, "") != ""])

  build_dir     = var.build_dir != null ? var.build_dir : "${path.module}/../build"
  source_bucket = coalesce(var.source_bucket, one(google_storage_bucket.source[*].name))

  labels = merge({
    app         = "tok"
    environment = var.environment
    managed-by  = "terraform"
  }, var.labels)
}
