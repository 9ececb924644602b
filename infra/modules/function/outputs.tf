output "function_name" {
  description = "Name of the Cloud Run function."
  value       = google_cloudfunctions2_function.function.name
}

output "function_id" {
  description = "Resource ID of the Cloud Run function."
  value       = google_cloudfunctions2_function.function.id
}

output "service" {
  description = "Full resource name of the Cloud Run service behind the function."
  value       = google_cloudfunctions2_function.function.service_config[0].service
}

output "service_name" {
  description = "Short name of the Cloud Run service behind the function (the load balancer's serverless NEG points at it)."
  value       = google_cloudfunctions2_function.function.name
}

output "uri" {
  description = "Direct URI of the function (reachable only as its ingress settings allow)."
  value       = google_cloudfunctions2_function.function.service_config[0].uri
}

output "service_account_email" {
  description = "Email of the function's own service account."
  value       = google_service_account.function.email
}

output "service_account_member" {
  description = "IAM member string of the function's service account."
  value       = google_service_account.function.member
}
