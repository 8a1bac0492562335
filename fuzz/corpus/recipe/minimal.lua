return { duration = 1, sources = { a = { file = "x.wav", k = 2 } }, layers = { { W = "a" } } }
