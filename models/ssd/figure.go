package ssd

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	"github.com/gap-harness/gap/internal/atomicfile"
)

// FigureRow is one row of the detection figure: a model's detections on
// the figure's images.
type FigureRow struct {
	// Detections[i] are the detections on image i (relative boxes).
	Detections [][]Scored
}

// FigureConfig sets the figure's look.
type FigureConfig struct {
	// Scale magnifies each pixel (default 4); MinScore hides weaker
	// detections (default 0.3).
	Scale    int
	MinScore float64
}

// WriteFigure draws a grid of grayscale images (side x side bytes each):
// one column per image, one row per FigureRow (e.g. dense above the 90%
// C-GaP model), ground-truth boxes in green, detections scoring at least
// MinScore in red with their label drawn in a small bitmap font at the
// box's top-left corner. It writes a PNG atomically (temp file, rename).
func WriteFigure(path string, side int, images [][]uint8, truths [][]Truth, rows []FigureRow, cfg FigureConfig) (err error) {
	if cfg.Scale <= 0 {
		cfg.Scale = 4
	}
	if cfg.MinScore == 0 {
		cfg.MinScore = 0.3
	}
	for r, row := range rows {
		if len(row.Detections) != len(images) {
			return fmt.Errorf("ssd: figure row %d has detections for %d images, want %d", r, len(row.Detections), len(images))
		}
	}
	const gap = 4
	cell := side * cfg.Scale
	W := len(images)*(cell+gap) + gap
	H := len(rows)*(cell+gap) + gap
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	green, red := color.RGBA{0, 200, 0, 255}, color.RGBA{230, 30, 30, 255}
	for r, row := range rows {
		oy := gap + r*(cell+gap)
		for i, px := range images {
			ox := gap + i*(cell+gap)
			for y := 0; y < cell; y++ {
				for x := 0; x < cell; x++ {
					v := px[(y/cfg.Scale)*side+x/cfg.Scale]
					img.SetRGBA(ox+x, oy+y, color.RGBA{v, v, v, 255})
				}
			}
			if i < len(truths) {
				for _, t := range truths[i] {
					drawRect(img, ox, oy, cell, t.Box, green)
				}
			}
			for _, d := range row.Detections[i] {
				if d.Score < cfg.MinScore {
					continue
				}
				drawRect(img, ox, oy, cell, d.Box, red)
				drawDigits(img, ox+int(clamp01(d.Box.X0)*float64(cell))+2, oy+int(clamp01(d.Box.Y0)*float64(cell))+2, d.Label-1, red)
			}
		}
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("ssd: figure: %w", err)
	}
	return nil
}

func drawRect(img *image.RGBA, ox, oy, cell int, b Rect, c color.RGBA) {
	x0, y0 := ox+int(clamp01(b.X0)*float64(cell)), oy+int(clamp01(b.Y0)*float64(cell))
	x1, y1 := ox+int(clamp01(b.X1)*float64(cell))-1, oy+int(clamp01(b.Y1)*float64(cell))-1
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y0, c)
		img.SetRGBA(x, y1, c)
	}
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x0, y, c)
		img.SetRGBA(x1, y, c)
	}
}

// glyphs is a 3x5 bitmap font of the digits 0-9 (rows top to bottom, 3
// bits each, most significant bit left).
var glyphs = [10][5]uint8{
	{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
	{7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
}

// drawDigits draws the decimal digits of n (>= 0) at (x, y), 2x magnified.
func drawDigits(img *image.RGBA, x, y, n int, c color.RGBA) {
	if n < 0 {
		return
	}
	s := fmt.Sprint(n)
	for k, ch := range s {
		g := glyphs[ch-'0']
		for r := 0; r < 5; r++ {
			for col := 0; col < 3; col++ {
				if g[r]>>(2-col)&1 == 1 {
					for dy := 0; dy < 2; dy++ {
						for dx := 0; dx < 2; dx++ {
							if p := image.Pt(x+k*8+col*2+dx, y+r*2+dy); p.In(img.Rect) {
								img.SetRGBA(p.X, p.Y, c)
							}
						}
					}
				}
			}
		}
	}
}
