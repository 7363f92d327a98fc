// Package billing holds what providers sell and partners buy: plans and
// subscriptions now; the usage ledger, invoices and the Stripe adapter as
// they arrive.
//
// A subscription ties a partner's app to a plan revision of a provider's API
// version. Its status moves through an explicit state machine
// (SubscriptionStatus, CheckSubscriptionTransition); every change is
// recorded as a subscription event and in the audit log. Upgrades apply at
// once, downgrades at the end of the monthly period (RollPeriods), and the
// app — so its AK/SK keys — never changes with the plan.
//
// A plan is a slug on one API with numbered revisions. A published
// revision's prices and limits never change, because subscribers keep the
// terms they signed up for: changing a published plan makes a new draft
// revision that supersedes it, and publishing that draft deprecates the
// revision it replaces (its subscribers are grandfathered; new subscriptions
// get the new revision). PlanState and CheckTransition hold the states a
// revision moves through.
//
// Like tenants, every method that touches a provider's data takes the
// organisation id explicitly and filters by it (and by the API id); a row of
// another organisation or API is reported as not found. Errors are
// *tenants.Error values, so the HTTP layers map them with the same table.
// Authorisation (tenants.Role.CanManagePlans) is the caller's job: the
// service trusts that the actor may act in the organisation and records the
// actor in the audit log.
package billing
