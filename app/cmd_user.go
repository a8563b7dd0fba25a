package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"vod/modules/auth"
)

func userCreateCommand() command {
	return command{
		args: "--username NAME --email ADDR [--admin]",
		help: "Create a user. The password is read from VOD_USER_PASSWORD, or from the first line of standard input.",
		flags: func(fs *pflag.FlagSet) {
			fs.String("username", "", "username (3-32 of a-z 0-9 _ . -)")
			fs.String("email", "", "email address")
			fs.String("first-name", "Admin", "first name")
			fs.String("last-name", "User", "last name")
			fs.Bool("admin", false, "give the user the admin role")
			fs.String("password-stdin", "", "")
			_ = fs.MarkHidden("password-stdin")
		},
		run: func(ctx context.Context, e *env) error {
			get := func(n string) string { v, _ := e.fs.GetString(n); return v }
			admin, _ := e.fs.GetBool("admin")
			pw := e.getenv("VOD_USER_PASSWORD")
			if pw == "" && e.stdin != nil {
				line, err := bufio.NewReader(e.stdin).ReadString('\n')
				if err != nil && line == "" {
					return errors.New("no password: set VOD_USER_PASSWORD or pipe it on standard input")
				}
				pw = strings.TrimRight(line, "\r\n")
			}
			a, err := build(ctx, e.cfg, e.log, false)
			if err != nil {
				return err
			}
			defer a.close()
			role := auth.RoleUser
			if admin {
				role = auth.RoleAdmin
			}
			u, err := a.auth.Signup(ctx, auth.SignupInput{Username: get("username"), Email: get("email"), Password: pw,
				PasswordConfirm: pw, FirstName: get("first-name"), LastName: get("last-name")}, role)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created %s %s (%s)\n", u.Role, u.Username, u.ID)
			return nil
		},
	}
}
