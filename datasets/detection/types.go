// Package detection provides object-detection data (Pascal VOC XML and
// COCO instances JSON loaders, the derived "mnist-detect" default set)
// and its metrics: VOC mAP at IoU 0.5 (11-point and all-point) and the
// COCO evaluation as pycocotools' COCOeval computes it for boxes.
package detection

// Box is an axis-aligned box in COCO convention: top-left corner (X, Y),
// width W and height H, continuous pixel coordinates.
type Box struct {
	X, Y, W, H float64
}

// Area returns W*H.
func (b Box) Area() float64 { return b.W * b.H }

// ImageInfo describes one image of a data set.
type ImageInfo struct {
	ID            int64
	FileName      string
	Width, Height int
}

// Category is one object class.
type Category struct {
	ID   int64
	Name string
}

// Annotation is one ground-truth object.
type Annotation struct {
	ID, ImageID, CategoryID int64
	BBox                    Box
	// Area is COCO's "area" field (the segment area); it decides the
	// small/medium/large range. Loaders set it to BBox.Area() when absent.
	Area float64
	// IsCrowd marks a COCO crowd region: never a miss, and any detection
	// matched to it is ignored.
	IsCrowd bool
	// Difficult is Pascal VOC's flag: ignored by the VOC metric (and
	// treated as a crowd-free ignore region by nothing else).
	Difficult bool
}

// Dataset is a set of images with ground-truth boxes, shaped like a COCO
// instances file.
type Dataset struct {
	Images      []ImageInfo
	Categories  []Category
	Annotations []Annotation
}

// Detection is one predicted box, as in a COCO results file.
type Detection struct {
	ImageID, CategoryID int64
	BBox                Box
	Score               float64
}
