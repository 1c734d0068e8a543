"""One module per gate. Gate modules import heavy libraries inside functions only."""
