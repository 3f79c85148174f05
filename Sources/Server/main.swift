print("mystore-server")
