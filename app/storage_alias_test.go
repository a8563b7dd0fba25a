package app

import "vod/app/storage"

type storageObject = storage.Object
