"""The V servers each machine runs as processes: kernel server, program manager, file and display servers."""
