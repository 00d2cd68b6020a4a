"""The image canvas. Scene coordinates are image pixel-edge coordinates: one scene unit is one
image pixel and the image's top-left corner is the scene origin."""
