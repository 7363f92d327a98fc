package account

import "github.com/portico-dev/portico/templates/components"

// expiryOptions are the token lifetimes offered; "" means no expiry.
var expiryOptions = []components.Option{
	{Value: "7", Label: "7 days"},
	{Value: "30", Label: "30 days"},
	{Value: "90", Label: "90 days"},
	{Value: "365", Label: "1 year"},
	{Value: "", Label: "No expiry"},
}

func revokeConfirm(t TokenRow) string {
	return "Revoke the token “" + t.Name + "”? Anything using it stops working immediately."
}

// passwordFocus is the password field to autofocus: the first with an
// error, unless the profile form already takes the focus.
func (p SettingsProps) passwordFocus() string {
	if p.ProfileErrors["name"] != "" {
		return ""
	}
	return components.Focus(p.PasswordErrors, "", "current_password", "new_password", "new_password_confirm")
}
