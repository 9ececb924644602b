output "function" {
  description = "The function: its name (also the short name of the Cloud Run service behind it, where the load balancer's serverless NEG points), its direct URI (reachable only as its ingress settings allow) and the email of its own service account."
  value = {
    name                  = google_cloudfunctions2_function.function.name
    uri                   = google_cloudfunctions2_function.function.service_config[0].uri
    service_account_email = google_service_account.function.email
  }
}
