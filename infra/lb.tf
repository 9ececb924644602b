# Global external Application Load Balancer in front of the HTTP functions, serving the two
# API hosts (api_domains.live and api_domains.sandbox), each with its own Google-managed
# certificate. Each HTTP function gets a serverless NEG and a backend service; each host has a
# path matcher whose path rules are the manifest's routes ("/v1/banks/*" is the URL map's own
# prefix wildcard) and whose header action sets X-Tok-Environment to the host's environment,
# replacing whatever the client sent: that header is how a function knows the host
# (tenant.EnvironmentHeader). A request for any other host is redirected to the live host,
# never served. Unrouted paths go to the first authenticated function by name
# (manifest.DefaultHTTP), which answers 404 with the caller's rate-limit headers. Created
# when api_domains is set.
locals {
  lb_enabled      = var.api_domains != null
  api_hosts       = local.lb_enabled ? { live = var.api_domains.live, sandbox = var.api_domains.sandbox } : {}
  lb_functions    = local.lb_enabled ? local.http_functions : {}
  lb_default_name = var.lb_default_function != null ? var.lb_default_function : try(sort([for name, f in local.http_functions : name if !try(f.public, false)])[0], null)
}

resource "google_compute_region_network_endpoint_group" "function" {
  for_each = local.lb_functions

  project               = var.project_id
  region                = var.region
  name                  = "tok-neg-${each.key}"
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = module.function[each.key].function.name
  }
}

resource "google_compute_backend_service" "function" {
  for_each = local.lb_functions

  project               = var.project_id
  name                  = "tok-be-${each.key}"
  description           = try(each.value.description, "")
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  # security_policy = google_compute_security_policy.api.id   # Cloud Armor: a later issue

  backend {
    group = google_compute_region_network_endpoint_group.function[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "api" {
  count = local.lb_enabled ? 1 : 0

  project = var.project_id
  name    = "tok-api"

  default_url_redirect {
    host_redirect          = var.api_domains.live
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }

  dynamic "host_rule" {
    for_each = local.api_hosts
    content {
      hosts        = [host_rule.value]
      path_matcher = host_rule.key
    }
  }

  dynamic "path_matcher" {
    for_each = local.api_hosts
    content {
      name            = path_matcher.key
      default_service = google_compute_backend_service.function[local.lb_default_name].id

      header_action {
        request_headers_to_add {
          header_name  = "X-Tok-Environment"
          header_value = path_matcher.key
          replace      = true
        }
      }

      dynamic "path_rule" {
        for_each = local.lb_functions
        content {
          paths   = path_rule.value.routes
          service = google_compute_backend_service.function[path_rule.key].id
        }
      }
    }
  }
}

resource "google_compute_global_address" "api" {
  count = local.lb_enabled ? 1 : 0

  project = var.project_id
  name    = "tok-api"

  depends_on = [google_project_service.apis]
}

# One certificate per host, so either provisions (and renews) without waiting on the other.
resource "google_compute_managed_ssl_certificate" "api" {
  for_each = local.api_hosts

  project = var.project_id
  name    = "tok-api-${each.key}-${substr(sha1(each.value), 0, 8)}"

  managed {
    domains = [each.value]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_target_https_proxy" "api" {
  count = local.lb_enabled ? 1 : 0

  project          = var.project_id
  name             = "tok-api"
  url_map          = google_compute_url_map.api[0].id
  ssl_certificates = [for env in sort(keys(local.api_hosts)) : google_compute_managed_ssl_certificate.api[env].id]
}

resource "google_compute_global_forwarding_rule" "https" {
  count = local.lb_enabled ? 1 : 0

  project               = var.project_id
  name                  = "tok-api-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api[0].id
  port_range            = "443"
  target                = google_compute_target_https_proxy.api[0].id
}

# Plain HTTP only redirects to HTTPS.
resource "google_compute_url_map" "http_redirect" {
  count = local.lb_enabled ? 1 : 0

  project = var.project_id
  name    = "tok-api-http-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "http_redirect" {
  count = local.lb_enabled ? 1 : 0

  project = var.project_id
  name    = "tok-api-http-redirect"
  url_map = google_compute_url_map.http_redirect[0].id
}

resource "google_compute_global_forwarding_rule" "http" {
  count = local.lb_enabled ? 1 : 0

  project               = var.project_id
  name                  = "tok-api-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api[0].id
  port_range            = "80"
  target                = google_compute_target_http_proxy.http_redirect[0].id
}
