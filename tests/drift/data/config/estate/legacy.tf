removed {
  from = aws_instance.legacy

  lifecycle {
    destroy = false
  }
}
