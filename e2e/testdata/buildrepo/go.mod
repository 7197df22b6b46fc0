module previewapp

go 1.26
