document.documentElement.dataset.blogScript = "loaded";
