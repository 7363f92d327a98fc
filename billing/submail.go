package billing

import (
	"context"
	"fmt"
	"strings"

	"github.com/portico-dev/portico/tenants"
)

// Emails about subscriptions go to an organisation's owners and admins, the
// members who can act on them. They are sent after the change commits; a
// failed send is logged and never undoes the change.

// Console pages the emails link to, under Options.BaseURL.
const (
	partnerSubscriptionPath  = "/orgs/%s/subscriptions/%s"
	providerSubscriptionPath = "/orgs/%s/subscribers/%s"
)

// adminEmails returns the addresses of an organisation's owners and admins.
func (s *Service) adminEmails(ctx context.Context, orgID string) ([]string, error) {
	var out []string
	err := s.db.WithContext(ctx).Table("memberships m").Joins("JOIN users u ON u.id = m.user_id").
		Where("m.org_id = ? AND m.role IN ?", orgID, []string{string(tenants.RoleOwner), string(tenants.RoleAdmin)}).
		Order("u.email").Pluck("u.email", &out).Error
	if err != nil {
		return nil, fmt.Errorf("find admins: %w", err)
	}
	return out, nil
}

// mailAdmins sends one email to each owner and admin of an organisation.
func (s *Service) mailAdmins(ctx context.Context, orgID, subject, text string) {
	if s.mailer == nil {
		return
	}
	to, err := s.adminEmails(ctx, orgID)
	if err != nil {
		s.log.ErrorContext(ctx, "send subscription email failed", "org_id", orgID, "subject", subject, "err", err)
		return
	}
	for _, addr := range to {
		if err := s.mailer.Send(ctx, tenants.Email{To: addr, Subject: subject, Text: text}); err != nil {
			s.log.ErrorContext(ctx, "send subscription email failed", "org_id", orgID, "subject", subject, "err", err)
		}
	}
}

// mailRequest tells the provider a request waits for its approval.
func (s *Service) mailRequest(ctx context.Context, sub Subscription) {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\n%s asks to subscribe its app %q to %s %s on plan %s.\n", sub.PartnerOrgName, sub.AppName,
		sub.APIName, sub.Version, sub.Plan.Name)
	if sub.Message != "" {
		fmt.Fprintf(&b, "\nTheir message:\n\n%s\n", quote(sub.Message))
	}
	fmt.Fprintf(&b, "\nApprove or reject the request here:\n\n%s\n", s.link(providerSubscriptionPath, sub.ProviderOrgSlug, sub.ID))
	s.mailAdmins(ctx, sub.ProviderOrgID, fmt.Sprintf("Subscription request for %s from %s", sub.APIName, sub.PartnerOrgName), b.String())
}

// decisionWords are the subject verb and sentence of each email a provider's
// action sends to the partner.
var decisionWords = map[EventKind]struct{ subject, sentence string }{
	EventApproved:   {"approved", "%s approved the subscription of your app %q to %s %s on plan %s."},
	EventRejected:   {"rejected", "%s rejected the subscription of your app %q to %s %s on plan %s."},
	EventSuspended:  {"suspended", "%s suspended the subscription of your app %q to %s %s on plan %s: its calls are refused until the provider resumes it."},
	EventResumed:    {"resumed", "%s resumed the subscription of your app %q to %s %s on plan %s: its calls go through again."},
	EventTerminated: {"terminated", "%s terminated the subscription of your app %q to %s %s on plan %s. It has ended for good."},
	EventEnded:      {"ended", "%s took the API version offline, which ended the subscription of your app %q to %s %s on plan %s."},
}

// mailDecision tells the partner what the provider did to its subscription.
func (s *Service) mailDecision(ctx context.Context, sub Subscription, kind EventKind) {
	w, ok := decisionWords[kind]
	if !ok {
		return
	}
	var b strings.Builder
	b.WriteString("Hello,\n\n")
	fmt.Fprintf(&b, w.sentence, sub.ProviderOrgName, sub.AppName, sub.APIName, sub.Version, sub.Plan.Name)
	b.WriteString("\n")
	if sub.Reason != "" && kind != EventResumed {
		fmt.Fprintf(&b, "\nThe provider's reason:\n\n%s\n", quote(sub.Reason))
	}
	if sub.Status == SubPendingPayment {
		fmt.Fprintf(&b, "\n%s\n", paymentNote)
	}
	fmt.Fprintf(&b, "\nSee the subscription here:\n\n%s\n", s.link(partnerSubscriptionPath, sub.PartnerOrgSlug, sub.ID))
	s.mailAdmins(ctx, sub.OrgID, fmt.Sprintf("Subscription %s: %s (%s)", w.subject, sub.APIName, sub.AppName), b.String())
}

func (s *Service) link(path, orgSlug, id string) string {
	return s.baseURL + fmt.Sprintf(path, orgSlug, id)
}

// quote indents text someone typed, so it reads as quoted in a plain-text
// email.
func quote(text string) string {
	return "    " + strings.ReplaceAll(text, "\n", "\n    ")
}
