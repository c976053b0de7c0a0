print("quadcat")
