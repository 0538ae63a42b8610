// Package pointcloud holds the data and metrics of the point-cloud suite:
// readers of mesh and point formats (OFF as ModelNet40 ships it, PLY ascii
// and binary), area-weighted surface sampling, a ShapeNet part-segmentation
// reader, a ModelNet40 folder loader, the default synthetic "parts" data
// set (labelled parametric shapes standing in for ShapeNet part), and the
// part-segmentation mIoU of PointNet++.
package pointcloud
