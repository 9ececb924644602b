variable "project_id" {
  type        = string
  description = "Project that hosts the function."
}

variable "region" {
  type        = string
  description = "Region of the function and of its event trigger."
}

variable "name" {
  type        = string
  description = "Function name from the manifest (lower-case letters and digits)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters and digits, starting with a letter."
  }
}

variable "description" {
  type        = string
  description = "Human description of the function, from the manifest."
  default     = ""
}

variable "entry_point" {
  type        = string
  description = "Name the function registers with functions.HTTP / functions.CloudEvent (FUNCTION_TARGET)."
}

variable "kind" {
  type        = string
  description = "http (served through the load balancer) or event (triggered by a Pub/Sub topic through Eventarc)."

  validation {
    condition     = contains(["http", "event"], var.kind)
    error_message = "kind must be http or event."
  }
}

variable "runtime" {
  type        = string
  description = "Cloud Functions runtime, from the manifest (e.g. go126); must not be older than go.mod's go line."

  validation {
    condition     = can(regex("^go[0-9]+$", var.runtime))
    error_message = "runtime must be a Go runtime such as go126."
  }
}

variable "source_bucket" {
  type        = string
  description = "Bucket the zipped source is uploaded to (or already lives in, with source_object)."
}

variable "source_dir" {
  type        = string
  description = "Staged source folder (build/<name>/ from scripts/stage) that is zipped and uploaded. Ignored when source_object is set."
  default     = null
}

variable "source_object" {
  type        = string
  description = "Existing object in source_bucket holding the zipped source (e.g. uploaded by CI). When null, source_dir is zipped and uploaded."
  default     = null
}

variable "archive_dir" {
  type        = string
  description = "Local folder for the zip made from source_dir. When null, the module's .terraform-adjacent tmp folder under the root module."
  default     = null
}

variable "trigger_topic_id" {
  type        = string
  description = "Pub/Sub topic ID (projects/P/topics/T) that triggers an event function; null for HTTP functions."
  default     = null
}

variable "push_service_account_email" {
  type        = string
  description = "For event functions: the service account whose OIDC token Pub/Sub sends with every push; it alone gets roles/run.invoker on this function's service."
  default     = null
}

variable "dead_letter_topic_id" {
  type        = string
  description = "For event functions: Pub/Sub topic ID that receives a message after max_delivery_attempts failed deliveries."
  default     = null
}

variable "max_delivery_attempts" {
  type        = number
  description = "For event functions: deliveries of a message before it is dead-lettered (5-100). Handlers are idempotent, so redelivery is safe."
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's bounds)."
  }
}

variable "pubsub_service_agent" {
  type        = string
  description = "IAM member of the project's Pub/Sub service agent, which acknowledges dead-lettered messages on the push subscription."
  default     = null
}

variable "docker_repository" {
  type        = string
  description = "Artifact Registry repository (projects/P/locations/R/repositories/NAME) the build pushes the function's image to; the build account may write there only."
  default     = null
}

variable "build_service_account_id" {
  type        = string
  description = "Service account ID (projects/P/serviceAccounts/EMAIL) Cloud Build runs as; null for the project default."
  default     = null
}

variable "roles" {
  type        = list(string)
  description = "Project-level IAM roles for the function's own service account, from the manifest. Secret and KMS roles are refused here: they are granted per secret and per key."
  default     = []

  validation {
    condition = alltrue([
      for r in var.roles : !contains([
        "roles/owner",
        "roles/editor",
        "roles/secretmanager.admin",
        "roles/secretmanager.secretAccessor",
        "roles/cloudkms.admin",
        "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "roles/cloudkms.cryptoKeyEncrypter",
        "roles/cloudkms.cryptoKeyDecrypter",
      ], r)
    ])
    error_message = "roles must not contain owner/editor or Secret Manager / KMS roles; list secrets under secrets and keys under kmsKeys instead."
  }
}

variable "firestore_database" {
  type        = string
  description = "The function's own Firestore database (not Tok's default); its roles/datastore.* roles are then conditioned on that database, and TOK_FIRESTORE_DATABASE names it. Null: the default database."
  default     = null
}

variable "secrets" {
  type        = map(string)
  description = "Secrets the function may read: manifest name => secret ID (projects/P/secrets/NAME). secretAccessor is granted on each of these only."
  default     = {}
}

variable "kms_keys" {
  type        = map(string)
  description = "KMS crypto keys the function may use: manifest name => crypto key ID. cryptoKeyEncrypterDecrypter is granted on each of these only."
  default     = {}
}

variable "environment_variables" {
  type        = map(string)
  description = "The function's settings (TOK_*) beyond the module's own (GOOGLE_CLOUD_PROJECT, TOK_KMS_KEY, TOK_FIRESTORE_DATABASE), which they override."
  default     = {}
}

variable "ingress_settings" {
  type        = string
  description = "Ingress: when null, ALLOW_INTERNAL_AND_GCLB for http functions (only via the load balancer) and ALLOW_INTERNAL_ONLY for event functions."
  default     = null

  validation {
    condition     = var.ingress_settings == null || contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], coalesce(var.ingress_settings, "ALLOW_ALL"))
    error_message = "ingress_settings must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "allow_unauthenticated" {
  type        = bool
  description = "Grant allUsers roles/run.invoker (http functions behind the load balancer, where ingress limits callers and the function checks the API key). Ignored for event functions."
  default     = true
}

variable "sizing" {
  type = object({
    available_memory   = optional(string, "256M") # per instance, e.g. 256M or 1Gi
    available_cpu      = optional(string, "1")    # vCPUs per instance; concurrency above 1 needs at least 1
    timeout_seconds    = optional(number, 60)     # request (or event handling) timeout
    min_instance_count = optional(number, 0)      # instances kept warm
    max_instance_count = optional(number, 20)     # protects Firestore and bank APIs from runaway scaling
    concurrency        = optional(number, 40)     # concurrent requests per instance
  })
  description = "Instance sizing of the function; an attribute unset or null takes its default here."
  default     = {}
}

variable "labels" {
  type        = map(string)
  description = "Labels on the function."
  default     = {}
}
