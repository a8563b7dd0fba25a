package app

import (
	"context"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"vod/app/testenv"
)

func removeBucket(s testenv.S3Settings) error {
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.RemoveBucketWithOptions(ctx, s.Bucket, minio.RemoveBucketOptions{ForceDelete: true})
}
