// The API's objects, named after api/openapi.yaml's schemas; src/schema.ts is generated from
// the spec by openapi-typescript (npm run generate) and checked against it in make test.
import type { components, operations } from "./schema.js";

type Schemas = components["schemas"];

export type Account = Schemas["Account"];
export type AccountBalances = Schemas["AccountBalances"];
export type Balance = Schemas["Balance"];
export type Bank = Schemas["Bank"];
export type Consent = Schemas["Consent"];
export type ConsentStatus = Schemas["ConsentStatus"];
export type CreateConsentRequest = Schemas["CreateConsentRequest"];
export type RenewConsentRequest = Schemas["RenewConsentRequest"];
export type RefreshConsentRequest = Schemas["RefreshConsentRequest"];
export type ConsentRefresh = Schemas["ConsentRefresh"];
export type Transaction = Schemas["Transaction"];
export type TransactionChange = Schemas["TransactionChanges"]["data"][number];
export type StandingOrder = Schemas["StandingOrder"];
export type Webhook = Schemas["Webhook"];
export type WebhookWithSecret = Schemas["WebhookWithSecret"];
export type CreateWebhookRequest = Schemas["CreateWebhookRequest"];
export type UpdateWebhookRequest = Schemas["UpdateWebhookRequest"];
export type WebhookDelivery = Schemas["WebhookDelivery"];
export type WebhookAttempt = Schemas["WebhookAttempt"];
export type Event = Schemas["Event"];
export type EventType = Schemas["EventType"];
export type PingEvent = Schemas["PingEvent"];
export type Payment = Schemas["Payment"];
export type PaymentStatus = Schemas["PaymentStatus"];
export type CreatePaymentRequest = Schemas["CreatePaymentRequest"];
export type Refund = Schemas["Refund"];
export type CreateRefundRequest = Schemas["CreateRefundRequest"];
export type RefundBatch = Schemas["RefundBatch"];
export type CreateRefundBatchRequest = Schemas["CreateRefundBatchRequest"];
export type Organisation = Schemas["Organisation"];
export type SandboxConsentChange = Schemas["SandboxConsentChange"];
export type SandboxFireRequest = Schemas["SandboxFireRequest"];
export type SandboxAddTransactionRequest = Schemas["SandboxAddTransactionRequest"];
export type SandboxTransaction = Schemas["SandboxTransaction"];
export type UpdateOrganisationRequest = Schemas["UpdateOrganisationRequest"];
export type FundsConfirmationRequest = Schemas["FundsConfirmationRequest"];
export type FundsConfirmation = Schemas["FundsConfirmation"];
export type VrpConsent = Schemas["VrpConsent"];
export type VrpConsentStatus = Schemas["VrpConsentStatus"];
export type VrpRemaining = Schemas["VrpRemaining"];
export type VrpPeriodRemaining = Schemas["VrpPeriodRemaining"];
export type CreateVrpConsentRequest = Schemas["CreateVrpConsentRequest"];
export type CreateVrpRequest = Schemas["CreateVrpRequest"];
export type VrpFundsRequest = Schemas["VrpFundsRequest"];
export type KeyPair = Schemas["KeyPair"];
export type NewKeyPair = Schemas["NewKeyPair"];
export type CreateKeyPairRequest = Schemas["CreateKeyPairRequest"];
export type RotateKeyPairRequest = Schemas["RotateKeyPairRequest"];
export type Member = Schemas["Member"];
export type AddMemberRequest = Schemas["AddMemberRequest"];
export type UpdateMemberRequest = Schemas["UpdateMemberRequest"];

/** The query parameters of an operation, as the spec declares them. */
export type QueryOf<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

export type ListBanksParams = QueryOf<"listBanks">;
export type ListConsentsParams = QueryOf<"listConsents">;
export type ListAccountsParams = QueryOf<"listAccounts">;
export type ListTransactionsParams = QueryOf<"listTransactions">;
export type ListTransactionChangesParams = QueryOf<"listTransactionChanges">;
export type ListStandingOrdersParams = QueryOf<"listStandingOrders">;
export type ListWebhooksParams = QueryOf<"listWebhooks">;
export type ListWebhookDeliveriesParams = QueryOf<"listWebhookDeliveries">;
export type ListEventsParams = QueryOf<"listEvents">;
export type ListPaymentsParams = QueryOf<"listPayments">;
export type ListRefundsParams = QueryOf<"listRefunds">;
export type ListPaymentRefundsParams = QueryOf<"listPaymentRefunds">;
export type ListVrpConsentsParams = QueryOf<"listVrpConsents">;
export type ListVrpConsentPaymentsParams = QueryOf<"listVrpConsentPayments">;
export type ListVrpsParams = QueryOf<"listVrps">;
export type ListApiKeysParams = QueryOf<"listApiKeys">;
export type ListMembersParams = QueryOf<"listMembers">;
