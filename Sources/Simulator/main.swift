print("mystore-sim")
