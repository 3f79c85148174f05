print("mystore")
