package pointcloud

// Segmentation is a part-segmentation data set (ShapeNet part or a proxy).
type Segmentation interface {
	// Len is the number of shapes.
	Len() int
	// NumPoints is the number of points of every example.
	NumPoints() int
	// NumCategories is the number of object categories.
	NumCategories() int
	// NumParts is the total number of part labels across categories.
	NumParts() int
	// CategoryParts returns the part labels that belong to category cat.
	CategoryParts(cat int) []int
	// Example returns shape i: points (NumPoints*3, x y z), normals
	// (NumPoints*3, or nil if the data set has none), per-point part labels
	// and the category.
	Example(i int) (pts []float32, normals []float32, parts []int32, cat int, err error)
}
