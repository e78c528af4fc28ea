"""The Groundup LMS example project: the four apps assembled into a learner site."""
