from clinic import create_app

app = create_app()
