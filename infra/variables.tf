variable "project_id" {
  type        = string
  description = "The Google Cloud project that hosts Tok."
}

variable "region" {
  type        = string
  description = "Region for the functions, Pub/Sub storage, KMS, Secret Manager replicas and the source bucket."
  default     = "europe-west3"
}

variable "environment" {
  type        = string
  description = "Deployment environment (dev, staging or prod). Not to be confused with live/sandbox, which is per API key inside one deployment."
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "firestore_location" {
  type        = string
  description = "Location of the Firestore database (a multi-region such as eur3 or a region such as europe-west3). Cannot change after creation."
  default     = "eur3"
}

variable "source_bucket" {
  type        = string
  description = "Existing Cloud Storage bucket for the functions' source zips. When null, Terraform creates <project_id>-tok-function-source."
  default     = null
}

variable "build_dir" {
  type        = string
  description = "Folder holding the staged functions (build/<name>/, made by `go run ./scripts/stage -all`). When null, the build/ folder at the repository root."
  default     = null
}

variable "function_overrides" {
  type = map(object({
    available_memory   = optional(string)
    available_cpu      = optional(string)
    timeout_seconds    = optional(number)
    min_instance_count = optional(number)
    max_instance_count = optional(number)
    concurrency        = optional(number)
  }))
  description = "Per-function sizing, keyed by the manifest name; anything unset uses the module's defaults."
  default     = {}

  # Event deliveries end at shared/platform.EventTimeout (45 s); the function timeout, which
  # is also the push subscription's ack deadline, must leave them room to answer.
  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.timeout_seconds == null || o.timeout_seconds >= 60])
    error_message = "function_overrides: timeout_seconds must be at least 60 (event deliveries end at 45 s)."
  }
}

variable "kms_rotation_period" {
  type        = string
  description = "Rotation period of the KMS crypto keys, in seconds with an s suffix (7776000s = 90 days)."
  default     = "7776000s"
}

variable "secret_replica_locations" {
  type        = list(string)
  description = "Regions holding the Secret Manager replicas (user-managed replication keeps secrets in the EU). When empty, the region variable alone."
  default     = []
}

variable "api_domains" {
  type = object({
    live    = string
    sandbox = string
  })
  description = "Host names of the two API hosts on the HTTPS load balancer, each with a Google-managed certificate: live keys are served on live (api.tokapi.io), sandbox keys on sandbox (sandbox.api.tokapi.io). Null: no load balancer is created."
  default     = null

  validation {
    condition = var.api_domains == null ? true : (
      var.api_domains.live != var.api_domains.sandbox &&
      alltrue([for d in [var.api_domains.live, var.api_domains.sandbox] : can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", d))])
    )
    error_message = "api_domains.live and api_domains.sandbox must be two different lower-case host names."
  }
}

variable "lb_default_function" {
  type        = string
  description = "HTTP function that receives requests matching no route (it answers the Tok NOT_FOUND envelope). When null, the first HTTP function by name."
  default     = null
}

variable "labels" {
  type        = map(string)
  description = "Extra labels applied to every resource that supports them."
  default     = {}
}
