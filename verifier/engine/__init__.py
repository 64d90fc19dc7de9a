"""The native engine (our own, and optionally the user's RTNeural build) behind one ``Model`` surface."""
