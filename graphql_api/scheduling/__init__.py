"""Finding time for habits: free slots in the user's windows, around their calendar."""
