// Command quickstart is the Go version of the API overview's quickstart: it lists the
// organisation's accounts and the first account's transactions of January and February
// 2026. It reads TOK_API_KEY (and TOK_API_URL for make dev or the sandbox).
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"tokapi.io/tok/sdks/go/tok"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := tok.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	accounts, err := client.Accounts.List(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	if len(accounts.Data) == 0 {
		log.Fatal("no accounts yet: connect a bank first (POST /v1/consents)")
	}
	for _, a := range accounts.Data {
		fmt.Printf("account %s  %s  %s  %s\n", a.ID, a.BankName, a.Currency, a.Name)
	}
	transactions, err := client.Transactions.List(ctx, accounts.Data[0].ID, &tok.ListTransactionsParams{
		DateFrom: tok.Ptr("2026-01-01"),
		DateTo:   tok.Ptr("2026-03-01"),
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range transactions.Data {
		date := ""
		if t.BookingDate != nil {
			date = *t.BookingDate
		}
		fmt.Printf("transaction %s  %s  %-8s %12s %s\n", t.ID, date, t.Direction, t.Amount, t.Currency)
	}
}
