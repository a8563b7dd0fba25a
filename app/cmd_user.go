package app

import (
	"bufio"
	"context"
	"strings"

	"github.com/spf13/pflag"

	"vod/app/cli"
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
		},
		run: func(ctx context.Context, e *env) error {
			var o cli.UserOptions
			o.Username, _ = e.fs.GetString("username")
			o.Email, _ = e.fs.GetString("email")
			o.FirstName, _ = e.fs.GetString("first-name")
			o.LastName, _ = e.fs.GetString("last-name")
			o.Admin, _ = e.fs.GetBool("admin")
			pw := e.getenv("VOD_USER_PASSWORD")
			if pw == "" && e.stdin != nil {
				line, _ := bufio.NewReader(e.stdin).ReadString('\n')
				pw = strings.TrimRight(line, "\r\n")
			}
			return e.withApp(ctx, func(a *App) error { return cli.CreateUser(ctx, e.streams(), a.auth, o, pw) })
		},
	}
}
