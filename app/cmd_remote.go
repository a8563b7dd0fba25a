package app

func remoteCommands() map[string]command { return map[string]command{} }
