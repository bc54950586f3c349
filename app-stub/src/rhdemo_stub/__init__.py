"""A stub of the rhDemo Spring Boot app, faithful at every point a lab scenario observes."""
