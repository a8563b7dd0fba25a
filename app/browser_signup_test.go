package app

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestSignupRules (issue 16): names are optional, passwords are rated by zxcvbn (length alone let
// "password123" in), and the messages are plain.
func TestSignupRules(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	a := setup(t)
	r := a.do("POST", "/api/v1/auth/signup", map[string]string{"username": "weak", "email": "weak@example.com",
		"password": "password123", "password_confirm": "password123"}, "")
	require.Equal(t, 422, r.Status)
	fields := r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	require.Contains(t, fields["password"], "too easy to guess")
	r = a.do("POST", "/api/v1/auth/signup", map[string]string{"username": "noname", "email": "noname@example.com",
		"password": "correct horse battery", "password_confirm": "correct horse batter"}, "")
	require.Equal(t, 422, r.Status)
	require.Equal(t, "The passwords don't match.", r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)["password_confirm"])
	r = a.do("POST", "/api/v1/auth/signup", map[string]string{"username": "noname", "email": "noname@example.com",
		"password": "correct horse battery", "password_confirm": "correct horse battery"}, "")
	require.Equal(t, 201, r.Status, "first and last name are optional: %s", r.Body)
	r = a.do("POST", "/api/v1/auth/password-check", map[string]string{"password": "noname2024!", "username": "noname"}, "")
	require.Equal(t, 200, r.Status)
	require.Equal(t, false, r.JSON(t)["acceptable"], "the user's own name does not make a password")
}

// TestBrowserSignup (issue 16): the form rates the password as it is typed, marks the field at
// fault with its message next to it (in view), and says a taken username by the username field.
func TestBrowserSignup(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	a.signup("taken")
	ctx, shot := browser(t)
	var weak, usernameErr, invalid string
	step(t, ctx, shot, "weak-password",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(a.URL+"/signup"),
		chromedp.WaitVisible(`input[name=username]`),
		chromedp.SendKeys(`input[name=username]`, "taken"),
		chromedp.SendKeys(`input[name=email]`, "someone@example.com"),
		chromedp.SendKeys(`input[name=password]`, "password123"),
		waitJS(`document.querySelector('[data-testid=strength-text]').textContent.includes('too easy')`, 10*time.Second),
		chromedp.Text(`[data-testid=strength-text]`, &weak),
	)
	require.Contains(t, weak, "too easy to guess")
	step(t, ctx, shot, "taken-username",
		chromedp.Evaluate(`document.querySelector('input[name=password]').value = ''; true`, nil),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.SendKeys(`input[name=password_confirm]`, "correct horse battery"),
		waitJS(`document.querySelector('[data-testid=strength-text]').textContent.includes('password')`, 10*time.Second),
		chromedp.Click(`main form button[type=submit]`),
		waitJS(`document.querySelector('input[name=username]').getAttribute('aria-invalid') === 'true'`, 10*time.Second),
		chromedp.Text(`#f-username-error`, &usernameErr),
		chromedp.Evaluate(`(() => { const r = document.querySelector('#f-username-error').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight ? 'in view' : 'out of view'; })()`, &invalid),
	)
	require.Equal(t, "That username is taken. Choose another.", usernameErr)
	require.Equal(t, "in view", invalid)
	step(t, ctx, shot, "fixed",
		chromedp.Evaluate(`document.querySelector('input[name=username]').value = ''; true`, nil),
		chromedp.SendKeys(`input[name=username]`, "newcomer"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=username]`),
	)
}
