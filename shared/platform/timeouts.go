package platform

import "time"

// BankWait is the deadline (Timeout) of a request a customer's browser sends that waits on
// the bank: the callback's token exchange and first reads of accounts and balances, the
// hosted pages' choice of bank.
const BankWait = 30 * time.Second
