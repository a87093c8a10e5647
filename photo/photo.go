// Package photo checks a profile photo: the one rule both front ends (the
// API and the web app) apply before the store keeps it.
package photo

import (
	"bytes"
	"image"
	_ "image/jpeg" // the decoders Check accepts
	_ "image/png"
	"strconv"

	"github.com/ferryhq/ferry"
)

// The limits of a profile photo.
const (
	MaxBytes  = 2 << 20
	MaxWidth  = 1600
	MaxHeight = 1200
)

// Invalid is INVALID_PHOTO with the rule and why a photo broke it.
func Invalid(why string) error {
	return ferry.Errorf(ferry.EINVALIDPHOTO, "The photo must be a PNG or JPEG image of at most 2 MB and %dx%d; %s.", MaxWidth, MaxHeight, why)
}

// Check returns data as a Photo when it is a PNG or JPEG image within the
// limits that decodes whole, and INVALID_PHOTO saying why otherwise.
func Check(data []byte) (ferry.Photo, error) {
	invalid := func(why string) (ferry.Photo, error) { return ferry.Photo{}, Invalid(why) }
	if len(data) > MaxBytes {
		return invalid("this one is larger")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "png" && format != "jpeg") {
		return invalid("this one is not")
	}
	if cfg.Width > MaxWidth || cfg.Height > MaxHeight {
		return invalid("this one is " + strconv.Itoa(cfg.Width) + "x" + strconv.Itoa(cfg.Height))
	}
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return invalid("this one does not decode")
	}
	return ferry.Photo{ContentType: "image/" + format, Data: data}, nil
}
