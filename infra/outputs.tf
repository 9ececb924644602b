output "functions" {
  description = "Per function: its URI and service account email."
  value = {
    for name, m in module.function : name => {
      uri                   = m.function.uri
      service_account_email = m.function.service_account_email
    }
  }
}

output "api_ip_address" {
  description = "IP address of the HTTPS load balancer (point both api_domains DNS records here); null without api_domains."
  value       = local.lb_enabled ? google_compute_global_address.api[0].address : null
}

output "kms_keys" {
  description = "KMS crypto key IDs by name (TOK_KMS_KEY for the tokens key)."
  value       = { for k, key in google_kms_crypto_key.key : k => key.id }
}

output "topics" {
  description = "Pub/Sub topic IDs by manifest name."
  value       = { for k, t in google_pubsub_topic.topic : k => t.id }
}

output "api_urls" {
  description = "Base URLs of the live and sandbox API hosts; null without api_domains."
  value       = local.lb_enabled ? { for env, host in local.api_hosts : env => "https://${host}/v1" } : null
}
