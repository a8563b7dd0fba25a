package app

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"vod/app/cli"
)

// The remote commands act on a running server through its API (app/cli/remote.go); the session is
// kept in the user's config directory ($XDG_CONFIG_HOME/vod or ~/.config/vod).

func remoteDir(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "vod")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "vod")
	}
	d, _ := os.UserConfigDir()
	return filepath.Join(d, "vod")
}

func withRemote(run func(ctx context.Context, e *env, r *cli.Remote) error) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		r, err := cli.LoadRemote(remoteDir(e.getenv))
		if err != nil {
			return err
		}
		return run(ctx, e, r)
	}
}

func remoteCommands() map[string]command {
	jsonFlag := func(fs *pflag.FlagSet) { fs.Bool("json", false, "print JSON for scripts") }
	oneID := func(e *env) (string, error) {
		if e.fs.NArg() != 1 {
			return "", errors.New("give one video id")
		}
		return e.fs.Arg(0), nil
	}
	return map[string]command{
		"login": {args: "--server URL --username NAME", help: "Log in to a running vod server. The password is read from standard input (one line), or from VOD_REMOTE_PASSWORD.",
			flags: func(fs *pflag.FlagSet) {
				fs.String("server", "", "the server's URL, e.g. https://video.example.com")
				fs.String("username", "", "username or email")
			},
			run: withRemote(func(ctx context.Context, e *env, r *cli.Remote) error {
				server, _ := e.fs.GetString("server")
				user, _ := e.fs.GetString("username")
				if server == "" || user == "" {
					return errors.New("--server and --username are required")
				}
				password := e.getenv("VOD_REMOTE_PASSWORD")
				if password == "" && e.stdin != nil {
					line, _ := bufio.NewReader(e.stdin).ReadString('\n')
					password = strings.TrimRight(line, "\r\n")
				}
				if password == "" {
					return errors.New("no password on standard input or in VOD_REMOTE_PASSWORD")
				}
				return r.Login(ctx, e.streams(), server, user, password)
			})},
		"upload": {args: "FILE... [--title T] [--visibility V] [--protection P] [--wait] [--json]",
			help: "Upload video files over tus (resumable: after a failure, the same command continues where the server stopped).\n--wait follows processing and exits non-zero when a video fails, printing the reason.",
			flags: func(fs *pflag.FlagSet) {
				fs.String("title", "", "title (default: the file name)")
				fs.String("description", "", "description")
				fs.String("visibility", "", "public, unlisted or private (default: public)")
				fs.String("protection", "", "none or clearkey: encrypted, keys only for viewers allowed to watch (default: the server's)")
				fs.Bool("wait", false, "wait until each video is ready or failed")
				jsonFlag(fs)
			},
			run: withRemote(func(ctx context.Context, e *env, r *cli.Remote) error {
				o := cli.UploadOptions{Files: e.fs.Args()}
				if len(o.Files) == 0 {
					return errors.New("give at least one file")
				}
				o.Title, _ = e.fs.GetString("title")
				o.Description, _ = e.fs.GetString("description")
				o.Visibility, _ = e.fs.GetString("visibility")
				o.Protection, _ = e.fs.GetString("protection")
				o.Wait, _ = e.fs.GetBool("wait")
				o.JSON, _ = e.fs.GetBool("json")
				return r.Upload(ctx, e.streams(), o)
			})},
		"ls": {help: "List your videos on the server.", flags: jsonFlag,
			run: withRemote(func(ctx context.Context, e *env, r *cli.Remote) error {
				j, _ := e.fs.GetBool("json")
				return r.List(ctx, e.streams(), j)
			})},
		"status": {args: "ID", help: "Show one video.", flags: jsonFlag,
			run: withRemote(func(ctx context.Context, e *env, r *cli.Remote) error {
				id, err := oneID(e)
				if err != nil {
					return err
				}
				j, _ := e.fs.GetBool("json")
				return r.Status(ctx, e.streams(), id, j)
			})},
		"rm": {args: "ID", help: "Delete one video.",
			run: withRemote(func(ctx context.Context, e *env, r *cli.Remote) error {
				id, err := oneID(e)
				if err != nil {
					return err
				}
				return r.Remove(ctx, e.streams(), id)
			})},
	}
}
